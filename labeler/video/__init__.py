"""Video labeling: streaming PyAV decode/encode of YUV planes for MP4, MOV and WebM."""
