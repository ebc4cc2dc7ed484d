"""Reference data shipped with the rules (the built-in Dangerous Goods List)."""
