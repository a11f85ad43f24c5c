//! Where one feature crate uses another: the ports a feature crate defines (in its own crate
//! or in `core`), implemented here with the other feature's service, so that feature crates do
//! not depend on each other.

use rampart_chat::rag::{RetrievalError, Retrieved, Retriever};
use rampart_core::Principal;
use rampart_knowledge::service::{KnowledgeService, SearchMode};
use std::future::Future;
use std::pin::Pin;

/// `rag` assistants' access to knowledge bases, as the asking user.
pub struct KbRetriever {
    pub knowledge: KnowledgeService,
    pub public_url: String,
}

impl Retriever for KbRetriever {
    fn retrieve<'a>(
        &'a self,
        p: &'a Principal,
        knowledge_bases: &'a [String],
        query: &'a str,
        k: usize,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Retrieved>, RetrievalError>> + Send + 'a>> {
        Box::pin(async move {
            let ids = self.knowledge.ids_by_name(knowledge_bases).await.map_err(RetrievalError::new)?;
            let passages = self
                .knowledge
                .retrieve(p, Some(&ids), query, k, SearchMode::Hybrid)
                .await
                .map_err(RetrievalError::new)?;
            let base = self.public_url.trim_end_matches('/');
            Ok(passages
                .into_iter()
                .map(|x| Retrieved {
                    uri: format!("{base}/v1/knowledge-bases/{}/documents/{}", x.knowledge_base_id, x.document_id),
                    document_name: x.document_name,
                    text: x.text,
                    page: x.location.page,
                })
                .collect())
        })
    }
}
