"""greenml's own behaviour, written exactly as an external plugin would be."""
