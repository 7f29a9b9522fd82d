"""Web: routes shared by all (health, metrics), middleware, and the console and portal packages."""
