"""Chapter 5's applications: data generators and small models, one module per section.

Every data set here is generated from a ``(seed, split)`` or read from data that an installed
package ships (Python's own documentation text, scikit-learn's bundled 8x8 digits); nothing is
downloaded.
"""
