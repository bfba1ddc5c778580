//! The only conversion between Elixir terms and Wasm values, both directions, v128
//! included. Which input fits which type is decided in `wasmex_core::value`.

use crate::atoms;
use rustler::{Atom, Encoder, Env, ListIterator, NifResult, Term, TermType};
use wasmex_core::value::{Input, TermKind};
use wasmi::{Val, ValType};

/// Reads any term as an [`Input`]; never fails (unfit terms are judged later).
pub(crate) fn input(term: Term) -> Input {
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
                Input::Other(TermKind::Atom)
            }
        }
        TermType::Binary => Input::Other(TermKind::Binary),
        TermType::List => Input::Other(TermKind::List),
        TermType::Map => Input::Other(TermKind::Map),
        TermType::Tuple => Input::Other(TermKind::Tuple),
        TermType::Pid => Input::Other(TermKind::Pid),
        TermType::Ref => Input::Other(TermKind::Ref),
        TermType::Fun => Input::Other(TermKind::Fun),
        TermType::Port | TermType::Unknown => Input::Other(TermKind::Port),
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
