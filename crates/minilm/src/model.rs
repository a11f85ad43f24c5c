//! The model: a folder's tokenizer and weights, loaded once; calls are CPU work that blocks
//! (run them on blocking threads) and take `&self`.

use crate::bert::{Bert, BertConfig, device, mean_pool_normalize};
use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;
use std::path::{Path, PathBuf};
use tokenizers::{Tokenizer, TruncationParams};

/// The most tokens of one text, `[CLS]` and `[SEP]` included (`sentence_bert_config.json`'s
/// `max_seq_length`; the rest of a longer text is not read, as in sentence-transformers).
pub const MAX_TOKENS: usize = 256;

/// The files a model folder must hold.
pub const MODEL_FILES: &[&str] = &["config.json", "tokenizer.json", "model.safetensors"];

#[derive(Debug, thiserror::Error)]
pub enum MiniLmError {
    #[error("the embedding model folder {0} lacks {1} (run `make minilm-model`)")]
    Missing(PathBuf, &'static str),
    #[error("the embedding model's {file} cannot be read: {detail}")]
    Read { file: &'static str, detail: String },
    #[error("the embedding model is not one this encoder runs: {0}")]
    Unsupported(String),
    #[error("tokenizing failed: {0}")]
    Tokenize(String),
    #[error("the encoder failed: {0}")]
    Tensor(#[from] candle_core::Error),
}

/// Whether `dir` holds the model's files (a cheap check; [`MiniLm::load`] reads them).
pub fn installed(dir: &Path) -> bool {
    MODEL_FILES.iter().all(|f| dir.join(f).is_file())
}

pub struct MiniLm {
    tokenizer: Tokenizer,
    bert: Bert,
    dims: usize,
}

impl std::fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLm").field("dims", &self.dims).finish_non_exhaustive()
    }
}

fn read(dir: &Path, file: &'static str) -> Result<Vec<u8>, MiniLmError> {
    std::fs::read(dir.join(file)).map_err(|e| MiniLmError::Read { file, detail: e.to_string() })
}

impl MiniLm {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, MiniLmError> {
        if let Some(f) = MODEL_FILES.iter().find(|f| !dir.join(f).is_file()) {
            return Err(MiniLmError::Missing(dir.to_path_buf(), f));
        }
        let bad =
            |file: &'static str| move |e: &dyn std::fmt::Display| MiniLmError::Read { file, detail: e.to_string() };
        let config: BertConfig =
            serde_json::from_slice(&read(dir, "config.json")?).map_err(|e| bad("config.json")(&e))?;
        if let Some(why) = config.unsupported() {
            return Err(MiniLmError::Unsupported(why));
        }
        let mut tokenizer =
            Tokenizer::from_bytes(read(dir, "tokenizer.json")?).map_err(|e| bad("tokenizer.json")(&e))?;
        // The file asks for 128 tokens padded to 128; sentence-transformers truncates at 256 and
        // pads to the longest of a batch (here: `forward` pads).
        let max_length = MAX_TOKENS.min(config.max_position_embeddings);
        tokenizer
            .with_truncation(Some(TruncationParams { max_length, ..Default::default() }))
            .map_err(|e| bad("tokenizer.json")(&e))?;
        tokenizer.with_padding(None);
        let weights = read(dir, "model.safetensors")?;
        let tensors = candle_core::safetensors::load_buffer(&weights, &device())?;
        drop(weights);
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device());
        let bert = Bert::load(&vb, &config).map_err(|e| MiniLmError::Unsupported(e.to_string()))?;
        Ok(Self { tokenizer, bert, dims: config.hidden_size })
    }

    /// The length of its vectors (384).
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Token ids of each text, `[CLS]` … `[SEP]`, at most [`MAX_TOKENS`].
    pub fn tokenize(&self, texts: &[String]) -> Result<Vec<Vec<u32>>, MiniLmError> {
        texts
            .iter()
            .map(|t| {
                let enc = self.tokenizer.encode(t.as_str(), true).map_err(|e| MiniLmError::Tokenize(e.to_string()))?;
                Ok(enc.get_ids().to_vec())
            })
            .collect()
    }

    /// Unit vectors of tokenized texts, in order, in one forward pass (padded to the longest;
    /// callers batch texts of similar lengths).
    pub fn forward(&self, seqs: &[Vec<u32>]) -> Result<Vec<Vec<f32>>, MiniLmError> {
        let n = seqs.iter().map(Vec::len).max().unwrap_or(0);
        if seqs.is_empty() || n == 0 {
            return Ok(vec![Vec::new(); seqs.len()]);
        }
        let mut ids = Vec::with_capacity(seqs.len() * n);
        let mut mask = Vec::with_capacity(seqs.len() * n);
        for s in seqs {
            ids.extend(s.iter().copied().chain(std::iter::repeat_n(0, n - s.len())));
            mask.extend((0..n).map(|i| u32::from(i < s.len())));
        }
        let ids = Tensor::from_vec(ids, (seqs.len(), n), &device())?;
        let mask = Tensor::from_vec(mask, (seqs.len(), n), &device())?;
        let hidden = self.bert.forward(&ids, &mask)?;
        Ok(mean_pool_normalize(&hidden, &mask)?.to_vec2::<f32>()?)
    }

    /// Unit vectors of texts, in order: tokenized, sorted by length and run `batch` at a time.
    pub fn embed(&self, texts: &[String], batch: usize) -> Result<Vec<Vec<f32>>, MiniLmError> {
        let seqs = self.tokenize(texts)?;
        let mut out = vec![Vec::new(); seqs.len()];
        for group in by_length(&seqs, batch) {
            let part: Vec<Vec<u32>> = group.iter().map(|&i| seqs[i].clone()).collect();
            for (&i, v) in group.iter().zip(self.forward(&part)?) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}

/// The indexes of `seqs` in groups of at most `batch`, shortest first, so that each forward
/// pass pads little.
pub fn by_length(seqs: &[Vec<u32>], batch: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..seqs.len()).collect();
    order.sort_by_key(|&i| seqs[i].len());
    order.chunks(batch.max(1)).map(<[usize]>::to_vec).collect()
}
