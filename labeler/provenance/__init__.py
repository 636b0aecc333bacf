"""Provenance: C2PA Content Credentials, TC260 SecurityData signing of the AIGC label, other providers'
marks, and the development certificate authority that makes all of it testable offline."""
