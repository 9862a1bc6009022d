"""The pure, deterministic model of a Hyper-V style machine. No UI, plugin or I/O imports."""
