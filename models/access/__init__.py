"""Who is calling and for whom: clients, secrets, the brake, delegations, introspected users."""
