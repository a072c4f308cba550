"""EAMS: the command line, settings, the local broker and the process that hosts the workers."""
