-- Dense retrieval: the embedding model of a knowledge base (NULL: lexical only), and each
-- chunk's vector (sealed, little-endian f32) with the id of the model that made it.
ALTER TABLE knowledge_bases ADD COLUMN embedding_model TEXT;
ALTER TABLE kb_chunks ADD COLUMN embedding {{BLOB}};
ALTER TABLE kb_chunks ADD COLUMN embedding_model TEXT;
