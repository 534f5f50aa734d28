//! What a server had accepted before a refusal, and the check that it still serves all of it.

use vault::CertId;

use crate::support::{World, example};

/// What the server had accepted before a refusal: one certificate and every entry's bytes.
pub struct Accepted {
    pub cert_id: CertId,
    entries: Vec<Vec<u8>>,
}

impl Accepted {
    /// Registers a certificate for CBP, has CBP open it, and records the log.
    pub async fn record(w: &World) -> Accepted {
        let (cert_id, _) = w.register(&example("usmca.json"), &[&w.cbp]).await;
        w.open(&w.cbp, &cert_id).await.unwrap();
        let size = w.server.size().await;
        let client = w.server.client();
        let mut entries = Vec::new();
        for index in 0..size {
            entries.push(client.get_entry(index).await.unwrap());
        }
        Accepted { cert_id, entries }
    }

    /// The server answers health checks and signed requests, its log did not shrink, every earlier entry is
    /// unchanged, and the earlier certificate still opens to the same body.
    pub async fn assert_intact(&self, w: &World) {
        let (status, body) = w.server.get("/healthz").await;
        assert_eq!((status, body.as_slice()), (200, b"ok\n".as_slice()));
        let size = w.server.size().await;
        assert!(size >= self.entries.len() as u64, "the log shrank");
        let client = w.server.client();
        for (index, bytes) in self.entries.iter().enumerate() {
            assert_eq!(
                &client.get_entry(index as u64).await.unwrap(),
                bytes,
                "entry {index}"
            );
        }
        let opened = w.open(&w.cbp, &self.cert_id).await.unwrap();
        assert_eq!(opened.body, example("usmca.json"));
    }
}
