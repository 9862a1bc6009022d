"""The Textual face of hvlab. Imported only when the TUI starts: the CLI stays light."""
