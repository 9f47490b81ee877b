"""Paper-profile data: the manifest, fetch/verify, loaders of the real annotation files, the data source."""
