//! The only conversion between Elixir terms and Wasm values, both directions, v128
//! included. Which input fits which type is decided in `wasmex_core::value`.

use crate::atoms;
use rustler::{Atom, Encoder, Env, ListIterator, NifResult, Term, TermType};
use wasmex_core::value::{Input, TermKind};
use wasmi::{Val, ValType};

/// Reads any term as an [`Input`]; never fails (unfit terms are judged later).
pub(crate) fn input(term: Term) -> Input {
    let other = |kind, shown: &str| Input::Other(kind, shown.into());
    match term.get_type() {
        TermType::Integer => integer(term),
        TermType::Float => term.decode::<f64>().map_or(Input::BigInt, Input::Float),
        TermType::Atom => {
            if term == atoms::nan().to_term(term.get_env()) {
                Input::Nan
            } else if term == atoms::infinity().to_term(term.get_env()) {
                Input::Infinity
            } else if term == atoms::neg_infinity().to_term(term.get_env()) {
                Input::NegInfinity
            } else {
                Input::Other(TermKind::Atom, atom_text(term).into())
            }
        }
        TermType::Binary => Input::Other(TermKind::Binary, binary_text(term).into()),
        TermType::List => other(TermKind::List, "a list"),
        TermType::Map => other(TermKind::Map, "a map"),
        TermType::Tuple => other(TermKind::Tuple, "a tuple"),
        TermType::Pid => other(TermKind::Pid, "a pid"),
        TermType::Ref => other(TermKind::Ref, "a reference"),
        TermType::Fun => other(TermKind::Fun, "a function"),
        TermType::Port | TermType::Unknown => other(TermKind::Port, "a port"),
    }
}

/// An atom as Elixir writes it: `nil`, `:ok`, `:"with space"`, `MyModule`.
fn atom_text(term: Term) -> String {
    let Ok(name) = term.atom_to_string() else {
        return "an atom".into();
    };
    if let Some(module) = name.strip_prefix("Elixir.") {
        return module.into();
    }
    let plain = name.chars().enumerate().all(|(i, c)| {
        c == '_' || c.is_ascii_lowercase() || (i > 0 && (c.is_ascii_alphanumeric() || c == '@'))
    });
    match name.as_str() {
        "nil" | "true" | "false" => name,
        _ if plain && !name.is_empty() => format!(":{name}"),
        _ => format!(":{name:?}"),
    }
}

/// A binary as Elixir writes it, cut short: `"abc"`, or `<<255, 0, ...>>` when it is not
/// printable text.
fn binary_text(term: Term) -> String {
    const SHOWN: usize = 40;
    let Ok(binary) = term.decode::<rustler::Binary>() else {
        return "a bitstring".into();
    };
    match std::str::from_utf8(&binary) {
        Ok(text) if !text.chars().any(char::is_control) => {
            let shown: String = text.chars().take(SHOWN).collect();
            let cut = if shown.len() < text.len() { "..." } else { "" };
            format!("{shown:?}{cut}")
        }
        _ => {
            let bytes: Vec<String> = binary.iter().take(SHOWN / 4).map(u8::to_string).collect();
            let cut = if binary.len() > SHOWN / 4 {
                ", ..."
            } else {
                ""
            };
            format!("<<{}{cut}>>", bytes.join(", "))
        }
    }
}

fn integer(term: Term) -> Input {
    if let Ok(n) = term.decode::<i64>() {
        return Input::Int(n.into());
    }
    // rustler decodes a bignum as i128 or u128 modulo 2^128 (-(2^128) + 1 as 1), so the
    // range is checked first.
    let env = term.get_env();
    let signed = term >= i128::MIN.encode(env) && term <= i128::MAX.encode(env);
    let unsigned = term >= 0.encode(env) && term <= u128::MAX.encode(env);
    match (term.decode::<i128>(), term.decode::<u128>()) {
        (Ok(n), _) if signed => Input::Int(n),
        (_, Ok(n)) if unsigned => Input::Uint(n),
        _ => Input::BigInt,
    }
}

/// The items of a proper list.
///
/// # Errors
///
/// `BadArg` (an `ArgumentError`) for anything else. rustler's own list decoding panics on
/// an improper list, so every list that comes from a user goes through here.
pub(crate) fn list(term: Term) -> NifResult<ListIterator> {
    term.list_length()?;
    term.decode()
}

/// Reads a list of terms as inputs.
///
/// # Errors
///
/// `BadArg` (an `ArgumentError`) when `terms` is not a proper list.
pub(crate) fn inputs(terms: Term) -> NifResult<Vec<Input>> {
    Ok(list(terms)?.map(input).collect())
}

/// Encodes a Wasm value: integers signed, floats as floats (NaN and infinities as atoms),
/// v128 as a non-negative integer, references as `nil` (null) or `:funcref`/`:externref`.
pub(crate) fn encode<'a>(env: Env<'a>, val: &Val) -> Term<'a> {
    match val {
        Val::I32(n) => n.encode(env),
        Val::I64(n) => n.encode(env),
        Val::F32(x) => float(env, f64::from(x.to_float())),
        Val::F64(x) => float(env, x.to_float()),
        Val::V128(v) => v.as_u128().encode(env),
        Val::FuncRef(r) => reference(env, r.is_null(), atoms::funcref()),
        Val::ExternRef(r) => reference(env, r.is_null(), atoms::externref()),
    }
}

fn float(env: Env<'_>, x: f64) -> Term<'_> {
    if x.is_nan() {
        atoms::nan().encode(env)
    } else if x == f64::INFINITY {
        atoms::infinity().encode(env)
    } else if x == f64::NEG_INFINITY {
        atoms::neg_infinity().encode(env)
    } else {
        x.encode(env)
    }
}

fn reference(env: Env<'_>, null: bool, kind: Atom) -> Term<'_> {
    if null {
        atoms::nil().encode(env)
    } else {
        kind.encode(env)
    }
}

/// Encodes values as a list.
pub(crate) fn encode_all<'a>(env: Env<'a>, vals: &[Val]) -> Term<'a> {
    let terms: Vec<Term<'a>> = vals.iter().map(|val| encode(env, val)).collect();
    terms.encode(env)
}

/// Encodes a value type: `:i32`, ..., or `{:reference, "(ref null func)"}` as Wasmex does.
pub(crate) fn encode_type(env: Env<'_>, ty: ValType) -> Term<'_> {
    match ty {
        ValType::FuncRef => (atoms::reference(), "(ref null func)").encode(env),
        ValType::ExternRef => (atoms::reference(), "(ref null extern)").encode(env),
        _ => Atom::from_str(env, wasmex_core::value::type_name(ty))
            .map_or_else(|_| atoms::nil().encode(env), |atom| atom.encode(env)),
    }
}

/// Encodes value types as a list.
pub(crate) fn encode_types<'a>(env: Env<'a>, types: &[ValType]) -> Term<'a> {
    let terms: Vec<Term<'a>> = types.iter().map(|ty| encode_type(env, *ty)).collect();
    terms.encode(env)
}

/// Reads a value type atom (`:i32`, `:i64`, `:f32`, `:f64`, `:v128`).
///
/// Returns `None` for anything else.
pub(crate) fn decode_type(term: Term) -> Option<ValType> {
    let name = term.atom_to_string().ok()?;
    wasmex_core::value::type_from_name(&name)
}
