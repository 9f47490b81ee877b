"""Frame features from videos (CLIP image tower, PyAV decoding) and readers of stored feature sets."""
