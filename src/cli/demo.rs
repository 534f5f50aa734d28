//! `demo`: the whole story on a temporary embedded store.

use super::Global;

pub(super) async fn demo(_g: &Global) -> anyhow::Result<()> {
    anyhow::bail!("demo: waiting for the service branch")
}
