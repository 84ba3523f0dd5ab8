//! The provisioning engine.

/// The provisioning engine of one roster process.
pub struct Engine;
