"""The mini profile: a toy video world, its micro-CLIPs and its data sources (see README.md)."""
