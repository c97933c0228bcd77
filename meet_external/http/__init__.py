"""HTTP plumbing around Connexion: routes, the path rule, bodies, proxies, OAuth forms."""
