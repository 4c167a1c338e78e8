"""`inferstack up`: the whole stack on one machine — config, data directory, supervised services, clients."""
