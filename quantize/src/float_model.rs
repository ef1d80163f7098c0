//! The float BOA model: loading f32/f16/bf16 safetensors with BOA's tensor
//! names, and a step-form forward pass that records activation ranges.
//!
//! Floats are fine here: this is the quantizer, before "model file loaded".
//! Its results are frozen into the integer model file.

use half::{bf16, f16};
use safetensors::tensor::{Dtype, SafeTensors};
use std::collections::HashMap;

pub const N: usize = 16;
pub const K: usize = 4;

/// A dense float tensor (row-major).
#[derive(Clone, Debug)]
pub struct T {
    pub data: Vec<f32>,
}

pub struct FloatLayer {
    pub ln1_w: T,
    pub ln1_b: T,
    pub in_proj: T,
    pub conv_w: T,
    pub conv_b: T,
    pub x_proj: T,
    pub dt_w: T,
    pub dt_b: T,
    pub a_log: T,
    pub d: T,
    pub out_proj: T,
    pub ln2_w: T,
    pub ln2_b: T,
    pub ff0_w: T,
    pub ff0_b: T,
    pub ff2_w: T,
    pub ff2_b: T,
}

pub struct FloatModel {
    pub d: usize,
    pub e: usize,
    pub r: usize,
    pub emb: T,
    pub layers: Vec<FloatLayer>,
    pub h0_w: T,
    pub h0_b: T,
    pub h2_w: T,
    pub h2_b: T,
}

fn tensor(st: &SafeTensors, name: &str, shape: &[usize]) -> Result<T, String> {
    let v = st
        .tensor(name)
        .map_err(|_| format!("missing tensor {name}"))?;
    if v.shape() != shape {
        return Err(format!("{name}: shape {:?}, expected {shape:?}", v.shape()));
    }
    let b = v.data();
    let data: Vec<f32> = match v.dtype() {
        Dtype::F32 => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        Dtype::F16 => b
            .chunks_exact(2)
            .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => b
            .chunks_exact(2)
            .map(|c| bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        other => return Err(format!("{name}: dtype {other:?} is not a float type")),
    };
    if data.iter().any(|x| !x.is_finite()) {
        return Err(format!("{name}: contains NaN or infinity"));
    }
    Ok(T { data })
}

impl FloatModel {
    pub fn load(bytes: &[u8]) -> Result<FloatModel, String> {
        let st =
            SafeTensors::deserialize(bytes).map_err(|e| format!("not a safetensors file: {e}"))?;
        let emb = st
            .tensor("embedding.weight")
            .map_err(|_| "missing embedding.weight".to_string())?;
        if emb.shape().len() != 2 || emb.shape()[0] != 256 {
            return Err(format!(
                "embedding.weight shape {:?}, expected [256, d]",
                emb.shape()
            ));
        }
        let d = emb.shape()[1];
        let n_layers = (0..)
            .take_while(|i| st.tensor(&format!("blocks.{i}.ln1.weight")).is_ok())
            .count();
        if n_layers == 0 {
            return Err("no blocks.0.* tensors".into());
        }
        let (e, r) = (2 * d, d.div_ceil(16));
        let mut layers = Vec::new();
        for i in 0..n_layers {
            let b = format!("blocks.{i}");
            let m = format!("{b}.mamba");
            layers.push(FloatLayer {
                ln1_w: tensor(&st, &format!("{b}.ln1.weight"), &[d])?,
                ln1_b: tensor(&st, &format!("{b}.ln1.bias"), &[d])?,
                in_proj: tensor(&st, &format!("{m}.in_proj.weight"), &[2 * e, d])?,
                conv_w: tensor(&st, &format!("{m}.conv1d.weight"), &[e, 1, K])?,
                conv_b: tensor(&st, &format!("{m}.conv1d.bias"), &[e])?,
                x_proj: tensor(&st, &format!("{m}.x_proj.weight"), &[r + 2 * N, e])?,
                dt_w: tensor(&st, &format!("{m}.dt_proj.weight"), &[e, r])?,
                dt_b: tensor(&st, &format!("{m}.dt_proj.bias"), &[e])?,
                a_log: tensor(&st, &format!("{m}.A_log"), &[e, N])?,
                d: tensor(&st, &format!("{m}.D"), &[e])?,
                out_proj: tensor(&st, &format!("{m}.out_proj.weight"), &[d, e])?,
                ln2_w: tensor(&st, &format!("{b}.ln2.weight"), &[d])?,
                ln2_b: tensor(&st, &format!("{b}.ln2.bias"), &[d])?,
                ff0_w: tensor(&st, &format!("{b}.ff.0.weight"), &[4 * d, d])?,
                ff0_b: tensor(&st, &format!("{b}.ff.0.bias"), &[4 * d])?,
                ff2_w: tensor(&st, &format!("{b}.ff.2.weight"), &[d, 4 * d])?,
                ff2_b: tensor(&st, &format!("{b}.ff.2.bias"), &[d])?,
            });
        }
        Ok(FloatModel {
            d,
            e,
            r,
            emb: tensor(&st, "embedding.weight", &[256, d])?,
            layers,
            h0_w: tensor(&st, "head.0.weight", &[d, d])?,
            h0_b: tensor(&st, "head.0.bias", &[d])?,
            h2_w: tensor(&st, "head.2.weight", &[256, d])?,
            h2_b: tensor(&st, "head.2.bias", &[256])?,
        })
    }
}

pub fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}
pub fn softplus(x: f32) -> f32 {
    if x > 20.0 { x } else { x.exp().ln_1p() }
}
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x / std::f32::consts::SQRT_2))
}

fn matvec(w: &T, x: &[f32], b: Option<&T>, out: &mut Vec<f32>) {
    let cols = x.len();
    out.clear();
    for (j, row) in w.data.chunks_exact(cols).enumerate() {
        let s: f32 = row.iter().zip(x).map(|(a, b)| a * b).sum();
        out.push(s + b.map_or(0.0, |b| b.data[j]));
    }
}

fn layer_norm(x: &[f32], w: &T, b: &T) -> Vec<f32> {
    let n = x.len() as f32;
    let mean = x.iter().sum::<f32>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let inv = 1.0 / (var + 1e-5).sqrt();
    x.iter()
        .enumerate()
        .map(|(i, v)| (v - mean) * inv * w.data[i] + b.data[i])
        .collect()
}

/// Activation magnitudes seen at every quantization site (per layer where it applies).
///
/// Keeps the maximum and a bounded, evenly strided sample of |values| per site, so
/// a scale can be set at a high percentile instead of the maximum: clipping a
/// few outliers buys resolution for everything else.
#[derive(Clone, Debug, Default)]
pub struct Ranges {
    pub sites: HashMap<String, Site>,
}

#[derive(Clone, Debug, Default)]
pub struct Site {
    pub max: f32,
    sample: Vec<f32>,
    seen: u64,
}

/// Values kept per site for percentiles.
const SAMPLE_CAP: usize = 1 << 18;

impl Ranges {
    fn see(&mut self, site: String, v: &[f32]) {
        let e = self.sites.entry(site).or_default();
        for &x in v {
            let a = x.abs();
            e.max = e.max.max(a);
            e.seen += 1;
            // Keep every value until the cap, then every 2^k-th (k grows with the count).
            let stride = (e.seen / SAMPLE_CAP as u64).max(1).next_power_of_two();
            if e.sample.len() < SAMPLE_CAP || e.seen.is_multiple_of(stride) {
                if e.sample.len() >= SAMPLE_CAP {
                    let i = (e.seen / stride) as usize % SAMPLE_CAP;
                    e.sample[i] = a;
                } else {
                    e.sample.push(a);
                }
            }
        }
    }

    /// The largest |value| seen at a site.
    pub fn get(&self, site: &str) -> f32 {
        self.sites.get(site).map_or(0.0, |s| s.max).max(1e-6)
    }

    /// The `q`-quantile (0..=1) of |value| at a site.
    pub fn quantile(&self, site: &str, q: f64) -> f32 {
        let Some(s) = self.sites.get(site) else {
            return 1e-6;
        };
        if s.sample.is_empty() {
            return 1e-6;
        }
        let mut v = s.sample.clone();
        let k = ((v.len() - 1) as f64 * q).round() as usize;
        let (_, x, _) = v.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
        x.max(1e-6)
    }
}

pub struct FloatState {
    conv: Vec<Vec<f32>>, // per layer [(K-1) * E], oldest first
    h: Vec<Vec<f32>>,    // per layer [E * N]
}

impl FloatModel {
    pub fn new_state(&self) -> FloatState {
        FloatState {
            conv: vec![vec![0.0; (K - 1) * self.e]; self.layers.len()],
            h: vec![vec![0.0; self.e * N]; self.layers.len()],
        }
    }

    /// One step: returns logits (natural log units) and records ranges.
    pub fn step(&self, st: &mut FloatState, byte: u8, rg: &mut Ranges) -> Vec<f32> {
        let (d, e, r) = (self.d, self.e, self.r);
        let mut x: Vec<f32> = self.emb.data[byte as usize * d..(byte as usize + 1) * d].to_vec();
        rg.see("x".into(), &x);
        let mut buf = Vec::new();
        for (li, l) in self.layers.iter().enumerate() {
            let p = |s: &str| format!("{li}.{s}");
            let u = layer_norm(&x, &l.ln1_w, &l.ln1_b);
            rg.see(p("u1"), &u);
            matvec(&l.in_proj, &u, None, &mut buf);
            let (xs, z) = (buf[..e].to_vec(), buf[e..].to_vec());
            rg.see(p("xs"), &xs);
            rg.see(p("z"), &z);
            let win = &mut st.conv[li];
            let mut pre = vec![0f32; e];
            for c in 0..e {
                let w = &l.conv_w.data[c * K..(c + 1) * K];
                let mut a = l.conv_b.data[c];
                for t in 0..K - 1 {
                    a += w[t] * win[t * e + c];
                }
                pre[c] = a + w[K - 1] * xs[c];
            }
            win.copy_within(e.., 0);
            let last = win.len() - e;
            win[last..].copy_from_slice(&xs);
            rg.see(p("conv"), &pre);
            let xc: Vec<f32> = pre.iter().map(|&v| silu(v)).collect();
            rg.see(p("xc"), &xc);
            let mut xd = Vec::new();
            matvec(&l.x_proj, &xc, None, &mut xd);
            let (dtl, bm, cm) = (&xd[..r], &xd[r..r + N], &xd[r + N..]);
            rg.see(p("dtl"), dtl);
            rg.see(p("B"), bm);
            rg.see(p("C"), cm);
            let mut dtp = Vec::new();
            matvec(&l.dt_w, dtl, Some(&l.dt_b), &mut dtp);
            rg.see(p("dtp"), &dtp);
            let dt: Vec<f32> = dtp.iter().map(|&v| softplus(v)).collect();
            let h = &mut st.h[li];
            let mut y = vec![0f32; e];
            let mut incs = vec![0f32; N];
            for c in 0..e {
                let mut acc = 0f32;
                for n in 0..N {
                    let a = -l.a_log.data[c * N + n].exp();
                    let inc = dt[c] * bm[n] * xc[c];
                    incs[n] = inc;
                    let hn = (dt[c] * a).exp() * h[c * N + n] + inc;
                    h[c * N + n] = hn;
                    acc += cm[n] * hn;
                }
                rg.see(p("inc"), &incs);
                y[c] = acc + l.d.data[c] * xc[c];
            }
            rg.see(p("h"), h);
            rg.see(p("y"), &y);
            let sz: Vec<f32> = z.iter().map(|&v| silu(v)).collect();
            rg.see(p("silu_z"), &sz);
            let g: Vec<f32> = y.iter().zip(&sz).map(|(a, b)| a * b).collect();
            rg.see(p("g"), &g);
            let mut mo = Vec::new();
            matvec(&l.out_proj, &g, None, &mut mo);
            rg.see(p("mo"), &mo);
            let u2 = layer_norm(&mo, &l.ln2_w, &l.ln2_b);
            rg.see(p("u2"), &u2);
            let mut f1 = Vec::new();
            matvec(&l.ff0_w, &u2, Some(&l.ff0_b), &mut f1);
            rg.see(p("f1"), &f1);
            let f2: Vec<f32> = f1.iter().map(|&v| gelu(v)).collect();
            rg.see(p("f2"), &f2);
            let mut fo = Vec::new();
            matvec(&l.ff2_w, &f2, Some(&l.ff2_b), &mut fo);
            for (a, b) in x.iter_mut().zip(&fo) {
                *a += b;
            }
            rg.see("x".into(), &x);
        }
        rg.see("xf".into(), &x);
        let mut h1 = Vec::new();
        matvec(&self.h0_w, &x, Some(&self.h0_b), &mut h1);
        rg.see("h1".into(), &h1);
        h1.iter_mut().for_each(|v| *v = v.max(0.0));
        let mut logits = Vec::new();
        matvec(&self.h2_w, &h1, Some(&self.h2_b), &mut logits);
        logits
    }
}
