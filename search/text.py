"""French text for search: shared by the embedded backends and by the tests of every backend.

(To be completed by the FTS5 work: normalisation, elision, stop words, Snowball stems, synonyms.)
"""
