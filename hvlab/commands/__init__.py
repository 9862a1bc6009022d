"""The commands of `hvlab`, one module per family; `hvlab.cli` parses and dispatches to them."""
