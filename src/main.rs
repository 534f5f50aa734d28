//! tradeledger: the service and command line.
fn main() {}
