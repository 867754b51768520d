"""The embedded deployment: everything on one machine, served over loopback HTTP."""
