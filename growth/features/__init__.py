"""Pure DataFrame -> DataFrame transforms and the schemas they declare. No sessions, no I/O."""
