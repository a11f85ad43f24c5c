//! The BERT encoder of `config.json` on candle, inference only, float32, on the CPU: word +
//! absolute position + token-type-0 embeddings and their LayerNorm, then `num_hidden_layers`
//! post-norm blocks (self-attention with an additive padding mask, exact erf GELU).
//! Q, K and V are one fused projection, with the attention scale folded into Q's weights.

use candle_core::{D, DType, Device, Module, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder};
use serde::Deserialize;

/// The keys of `config.json` the encoder is built from.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct BertConfig {
    pub model_type: String,
    pub hidden_act: String,
    #[serde(default = "absolute")]
    pub position_embedding_type: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
}

fn absolute() -> String {
    "absolute".into()
}

impl BertConfig {
    /// What this encoder does not implement, if anything.
    pub fn unsupported(&self) -> Option<String> {
        if self.model_type != "bert" {
            return Some(format!("model_type {:?} (bert only)", self.model_type));
        }
        if self.hidden_act != "gelu" {
            return Some(format!("hidden_act {:?} (gelu only)", self.hidden_act));
        }
        if self.position_embedding_type != "absolute" {
            return Some(format!("position_embedding_type {:?}", self.position_embedding_type));
        }
        if self.num_attention_heads == 0 || !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Some("hidden_size is not a multiple of num_attention_heads".into());
        }
        None
    }
}

struct Layer {
    qkv: Linear,
    attn_out: Linear,
    ln1: LayerNorm,
    ff_in: Linear,
    ff_out: Linear,
    ln2: LayerNorm,
}

pub(crate) struct Bert {
    words: Embedding,
    positions: Embedding,
    /// Token type 0's embedding (one sentence per input), shape (hidden).
    type0: Tensor,
    ln: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    head_dim: usize,
}

fn layer_norm(size: usize, eps: f64, vb: VarBuilder) -> candle_core::Result<LayerNorm> {
    candle_nn::layer_norm(size, eps, vb)
}

impl Bert {
    pub fn load(vb: &VarBuilder, c: &BertConfig) -> candle_core::Result<Self> {
        let (h, eps) = (c.hidden_size, c.layer_norm_eps);
        let e = vb.pp("embeddings");
        let type0 = e.get((c.type_vocab_size, h), "token_type_embeddings.weight")?.get(0)?;
        let head_dim = h / c.num_attention_heads;
        let scale = 1.0 / (head_dim as f64).sqrt();
        let mut layers = Vec::with_capacity(c.num_hidden_layers);
        for i in 0..c.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{i}"));
            let a = l.pp("attention.self");
            let (qw, qb) = (a.get((h, h), "query.weight")?, a.get(h, "query.bias")?);
            let (kw, kb) = (a.get((h, h), "key.weight")?, a.get(h, "key.bias")?);
            let (vw, vbias) = (a.get((h, h), "value.weight")?, a.get(h, "value.bias")?);
            let w = Tensor::cat(&[(qw * scale)?, kw, vw], 0)?;
            let b = Tensor::cat(&[(qb * scale)?, kb, vbias], 0)?;
            layers.push(Layer {
                qkv: Linear::new(w, Some(b)),
                attn_out: candle_nn::linear(h, h, l.pp("attention.output.dense"))?,
                ln1: layer_norm(h, eps, l.pp("attention.output.LayerNorm"))?,
                ff_in: candle_nn::linear(h, c.intermediate_size, l.pp("intermediate.dense"))?,
                ff_out: candle_nn::linear(c.intermediate_size, h, l.pp("output.dense"))?,
                ln2: layer_norm(h, eps, l.pp("output.LayerNorm"))?,
            });
        }
        Ok(Self {
            words: candle_nn::embedding(c.vocab_size, h, e.pp("word_embeddings"))?,
            positions: candle_nn::embedding(c.max_position_embeddings, h, e.pp("position_embeddings"))?,
            type0,
            ln: layer_norm(h, eps, e.pp("LayerNorm"))?,
            layers,
            heads: c.num_attention_heads,
            head_dim,
        })
    }

    /// The last hidden states, (batch, len, hidden), of `ids` (batch, len) whose real tokens
    /// are marked 1 in `mask` (batch, len; padding 0).
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let (b, n) = ids.dims2()?;
        let positions = Tensor::arange(0u32, n as u32, ids.device())?;
        let x = self.words.forward(ids)?.broadcast_add(&self.positions.forward(&positions)?)?;
        let mut x = self.ln.forward(&x.broadcast_add(&self.type0)?)?;
        // Padded keys get a large negative score before the softmax: (batch, 1, 1, len).
        let bias = ((mask.to_dtype(DType::F32)? - 1.0)? * 1e9)?.reshape((b, 1, 1, n))?;
        for l in &self.layers {
            x = self.block(l, &x, &bias)?;
        }
        Ok(x)
    }

    fn block(&self, l: &Layer, x: &Tensor, bias: &Tensor) -> candle_core::Result<Tensor> {
        let (b, n, h) = x.dims3()?;
        let qkv = l.qkv.forward(x)?.reshape((b, n, 3, self.heads, self.head_dim))?;
        // Each (batch, heads, len, head_dim).
        let part = |i: usize| qkv.narrow(2, i, 1)?.squeeze(2)?.transpose(1, 2)?.contiguous();
        let (q, k, v) = (part(0)?, part(1)?, part(2)?);
        let scores = q.matmul(&k.t()?.contiguous()?)?.broadcast_add(bias)?;
        let ctx = candle_nn::ops::softmax_last_dim(&scores)?.matmul(&v)?;
        let ctx = ctx.transpose(1, 2)?.contiguous()?.reshape((b, n, h))?;
        let x = l.ln1.forward(&(x + l.attn_out.forward(&ctx)?)?)?;
        let ff = l.ff_out.forward(&l.ff_in.forward(&x)?.gelu_erf()?)?;
        l.ln2.forward(&(x + ff)?)
    }
}

/// Mean of the token vectors over the mask, then L2 normalisation (sentence-transformers'
/// Pooling with `pooling_mode_mean_tokens` and Normalize): (batch, hidden) unit vectors.
pub(crate) fn mean_pool_normalize(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&m)?.sum(1)?;
    let counts = m.sum(1)?.clamp(1e-9, f32::MAX)?;
    let mean = summed.broadcast_div(&counts)?;
    let norm = mean.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?.clamp(1e-12, f32::MAX)?;
    mean.broadcast_div(&norm)
}

/// The CPU, the only device this crate uses.
pub(crate) fn device() -> Device {
    Device::Cpu
}
