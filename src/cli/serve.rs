//! `serve`: runs the service in the foreground until ctrl-c.

use super::{Global, ServeArgs};

pub(super) async fn serve(_g: &Global, _args: ServeArgs) -> anyhow::Result<()> {
    anyhow::bail!("serve: waiting for the service branch")
}
