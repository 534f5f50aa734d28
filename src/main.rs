//! The `tradeledger` binary.
fn main() {}
