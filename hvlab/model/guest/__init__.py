"""A child partition's kernel: its virtual service clients (storvsc, netvsc), its VMBus client,
and its own programs (the boot steps that enable the hypercall page, the IDE driver)."""
