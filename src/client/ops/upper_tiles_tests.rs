//! `audit`'s check of the hash tiles above level 0, against a tile source serving a real log's tiles.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use ledger::{MemoryStore, MemoryTree, NoteSigner, leaf_hash};

use super::audit::check_upper_tiles;
use crate::client::{ClientError, TileSource};
use crate::tilepath::TileRef;

/// Tiles by path, as a static prefix would serve them.
struct Served(HashMap<String, Vec<u8>>);

impl TileSource for Served {
    async fn checkpoint(&self) -> Result<Vec<u8>, ClientError> {
        Err(ClientError::Malformed("not used".into()))
    }

    async fn tile(&self, tile: TileRef) -> Result<Vec<u8>, ClientError> {
        self.0.get(&tile.path()).cloned().ok_or(ClientError::Api {
            status: 404,
            code: "http".into(),
            message: "Not Found".into(),
        })
    }

    async fn consistency(&self, _: u64, _: u64) -> Option<Result<Vec<Vec<u8>>, ClientError>> {
        None
    }

    fn policy(&self) -> Option<&ledger::Policy> {
        None
    }

    fn base(&self) -> &str {
        "memory"
    }
}

#[tokio::test]
async fn upper_tiles_are_checked_against_the_recomputed_tree_and_named() {
    let signer = NoteSigner::generate("example.com/upper").unwrap();
    let log = ledger::Log::open(MemoryStore::new(), signer, "example.com/upper").unwrap();
    let entries: Vec<Vec<u8>> = (0..600)
        .map(|i| format!("entry {i}").into_bytes())
        .collect();
    log.append_batch(entries.clone()).unwrap();
    let mut tree = MemoryTree::new();
    for entry in &entries {
        tree.push(leaf_hash(entry));
    }
    // 600 leaves: level 1 holds two complete 256-leaf subtrees, so tile/1/000.p/2.
    let name = "tile/1/000.p/2".to_owned();
    let mut served = Served(HashMap::from([(
        name.clone(),
        log.read_tile(1, 0, Some(2)).unwrap(),
    )]));
    assert!(check_upper_tiles(&served, &tree).await.unwrap().is_empty());

    served.0.get_mut(&name).unwrap()[40] ^= 1;
    let problems = check_upper_tiles(&served, &tree).await.unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains(&name), "{problems:?}");

    served.0.clear();
    let missing = check_upper_tiles(&served, &tree).await.unwrap_err();
    assert!(format!("{missing:#}").contains(&name), "{missing:#}");
}
