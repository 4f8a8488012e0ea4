"""World mode (AniX §3): 3D Gaussian-splat scenes, cameras and camera paths, text instructions.

Conventions: world coordinates are right-handed with +z up (the ground is z = 0); cameras follow OpenCV
(x right, y down, z forward), a world point p maps to camera coordinates R·p + t.
"""
