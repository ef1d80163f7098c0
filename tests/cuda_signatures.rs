//! Every kernel the host launches is declared once, in
//! `boa_det::engine::cuda::gpu` (name and parameter list). This test checks
//! those declarations against the `.entry` lines of the committed PTX (what a
//! GPU runs) and, in a build with the SIMT emulator, against the parameter
//! types the C++ compiler reads from the kernels themselves. A changed kernel
//! signature then fails here, on any machine, instead of on a device.

use boa_det::engine::cuda::gpu::{CODER_KERNELS, FORWARD_KERNELS, KernelSig, Param};
use boa_det::engine::cuda::{CODER_PTX, FORWARD_PTX};

/// `(name, parameter types)` of every `.entry` in a PTX module.
fn ptx_entries(ptx: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut lines = ptx.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.trim().strip_prefix(".visible .entry ") else {
            continue;
        };
        let name = rest.trim_end_matches('(').to_string();
        let mut params = Vec::new();
        for p in lines.by_ref() {
            let p = p.trim();
            if p.starts_with(')') {
                break;
            }
            let ty = p
                .strip_prefix(".param ")
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or_else(|| panic!("{name}: unexpected parameter line {p:?}"));
            params.push(ty.to_string());
        }
        out.push((name, params));
    }
    out
}

/// The PTX parameter type of a declared parameter: pointers are 64-bit
/// addresses; PTX does not keep the signedness of a 32-bit integer.
fn ptx_type_ok(p: Param, ty: &str) -> bool {
    match p {
        Param::Ptr | Param::U64 => ty == ".u64",
        Param::U32 | Param::S32 => matches!(ty, ".u32" | ".s32" | ".b32"),
    }
}

fn check_module(module: &str, ptx: &str, declared: &[&KernelSig]) {
    let entries = ptx_entries(ptx);
    let mut names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    let mut want: Vec<&str> = declared.iter().map(|k| k.name).collect();
    names.sort();
    want.sort();
    assert_eq!(names, want, "{module}: PTX entries and host declarations");
    for k in declared {
        let (_, params) = entries.iter().find(|(n, _)| n == k.name).unwrap();
        assert_eq!(
            params.len(),
            k.params.len(),
            "{module} {}: PTX has {} parameters, the host passes {}",
            k.name,
            params.len(),
            k.params.len()
        );
        for (i, (&p, ty)) in k.params.iter().zip(params).enumerate() {
            assert!(
                ptx_type_ok(p, ty),
                "{module} {} parameter {i}: PTX {ty}, host {p:?}",
                k.name
            );
        }
    }
}

#[test]
fn host_launches_match_the_ptx_entries() {
    check_module("boa_forward.ptx", FORWARD_PTX, FORWARD_KERNELS);
    check_module("boa_coder.ptx", CODER_PTX, CODER_KERNELS);
}

#[test]
fn the_ptx_parser_reads_names_and_types() {
    let ptx = ".visible .entry k(\n\t.param .u64 k_param_0,\n\t.param .u32 k_param_1\n)\n{\n}\n";
    assert_eq!(
        ptx_entries(ptx),
        [(
            "k".to_string(),
            vec![".u64".to_string(), ".u32".to_string()]
        )]
    );
    // A kernel with one parameter more than declared fails the check.
    let sig = KernelSig {
        name: "k",
        params: &[Param::Ptr],
    };
    let r = std::panic::catch_unwind(|| check_module("test", ptx, &[&sig]));
    assert!(r.is_err());
}

/// The emulator's registry reads each kernel's parameter types from its C++
/// declaration: they must be exactly the host's, signedness included.
#[cfg(feature = "cuda-emulator")]
#[test]
fn host_launches_match_the_compiled_kernels() {
    let compiled = boa_det::engine::cuda::emulator::compiled_kernels();
    let declared: Vec<&KernelSig> = FORWARD_KERNELS
        .iter()
        .chain(CODER_KERNELS)
        .copied()
        .collect();
    assert_eq!(compiled.len(), declared.len(), "{compiled:?}");
    for k in declared {
        let (_, sig) = compiled
            .iter()
            .find(|(n, _)| n == k.name)
            .unwrap_or_else(|| panic!("the emulator lacks {}", k.name));
        assert_eq!(*sig, k.signature(), "{}", k.name);
    }
}
