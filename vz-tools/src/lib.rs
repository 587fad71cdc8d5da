//! Shared pieces of the vz-tools binaries.
