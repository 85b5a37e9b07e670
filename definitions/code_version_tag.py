"""The tag a feature view carries naming the code version of its published table (written by
trip_features.feature_lineage.code_versions with every published date, handed to the definitions by
`jobs.register`)."""

CODE_VERSION_TAG = "code_version"
UNKNOWN = "unknown"  # no recorded version (never published, or published before versions)
