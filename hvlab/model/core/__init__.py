"""The machinery every layer uses and none owns: the store of all state (with its changes,
snapshots and digests), events, the protections and designs (the switches the lab teaches),
the oracle that plants canaries and judges every run, the topology graph of the architecture,
the frame layout, the engine that interleaves actors' programs, and attack records."""
