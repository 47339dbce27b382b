"""Deploy targets behind one interface: `local` processes, `skypilot` services."""
