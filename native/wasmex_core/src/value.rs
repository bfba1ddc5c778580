//! The rules for turning host values into Wasm values, and type names.
//!
//! The NIF decodes an Elixir term into an [`Input`] and this module decides whether it fits a
//! [`ValType`]: integers must be in the signed range (no wrapping), floats only go to float
//! types, an `f32` that would overflow to infinity is refused, `v128` takes `0..2^128`.

use core::fmt;
use wasmi::{Val, ValType, F32, F64, V128};

/// The kind of a term that is not a number, named as Wasmex names it in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermKind {
    /// An atom other than `:nan`, `:infinity`, `:neg_infinity`.
    Atom,
    /// A binary or bitstring.
    Binary,
    /// A list.
    List,
    /// A map.
    Map,
    /// A tuple.
    Tuple,
    /// A pid.
    Pid,
    /// A reference.
    Ref,
    /// A fun.
    Fun,
    /// A port.
    Port,
}

impl fmt::Display for TermKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A host value on its way into Wasm, as decoded from an Elixir term.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Input {
    /// An integer that fits `i128`.
    Int(i128),
    /// An integer above `i128::MAX` that fits `u128` (only useful for `v128`).
    Uint(u128),
    /// An integer outside both `i128` and `u128`.
    BigInt,
    /// A finite float.
    Float(f64),
    /// The atom `:nan`.
    Nan,
    /// The atom `:infinity`.
    Infinity,
    /// The atom `:neg_infinity`.
    NegInfinity,
    /// Anything else.
    Other(TermKind),
}

/// Why an [`Input`] does not fit a [`ValType`]; displays as the tail of Wasmex's message,
/// e.g. "i32 value." or "i32 value. Given `Atom`.".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mismatch {
    /// The type that was asked for.
    pub expected: ValType,
    /// The kind of term given, when it was not a number.
    pub given: Option<TermKind>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} value.", type_name(self.expected))?;
        if let Some(given) = self.given {
            write!(f, " Given `{given}`.")?;
        }
        Ok(())
    }
}

/// Converts `input` to a value of type `ty`.
///
/// # Errors
///
/// A [`Mismatch`] when the input is of the wrong kind or out of range for `ty`.
pub fn to_val(input: Input, ty: ValType) -> Result<Val, Mismatch> {
    let refused = || Mismatch {
        expected: ty,
        given: match input {
            Input::Other(kind) => Some(kind),
            _ => None,
        },
    };
    let val = match (ty, input) {
        (ValType::I32, Input::Int(n)) => Val::I32(i32::try_from(n).map_err(|_| refused())?),
        (ValType::I64, Input::Int(n)) => Val::I64(i64::try_from(n).map_err(|_| refused())?),
        (ValType::F32, Input::Float(x)) => {
            let narrowed = x as f32;
            if narrowed.is_infinite() {
                return Err(refused());
            }
            Val::F32(F32::from_float(narrowed))
        }
        (ValType::F64, Input::Float(x)) => Val::F64(F64::from_float(x)),
        (ValType::F32, special) => Val::F32(F32::from_float(
            special_float(special).ok_or_else(refused)? as f32,
        )),
        (ValType::F64, special) => {
            Val::F64(F64::from_float(special_float(special).ok_or_else(refused)?))
        }
        (ValType::V128, Input::Int(n)) => {
            Val::V128(V128::from(u128::try_from(n).map_err(|_| refused())?))
        }
        (ValType::V128, Input::Uint(n)) => Val::V128(V128::from(n)),
        _ => return Err(refused()),
    };
    Ok(val)
}

fn special_float(input: Input) -> Option<f64> {
    match input {
        Input::Nan => Some(f64::NAN),
        Input::Infinity => Some(f64::INFINITY),
        Input::NegInfinity => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// Converts `inputs` to values of `types` (call arguments), counting positions from 1.
///
/// # Errors
///
/// [`Error::ParamCount`](crate::Error::ParamCount) on a length mismatch, otherwise
/// [`Error::Argument`](crate::Error::Argument) for the first input that does not fit.
pub fn to_vals(
    inputs: impl ExactSizeIterator<Item = Input>,
    types: &[ValType],
) -> Result<Vec<Val>, crate::Error> {
    if inputs.len() != types.len() {
        return Err(crate::Error::ParamCount {
            expected: types.len(),
            got: inputs.len(),
        });
    }
    inputs
        .zip(types)
        .enumerate()
        .map(|(index, (input, ty))| {
            to_val(input, *ty).map_err(|mismatch| crate::Error::Argument {
                position: index + 1,
                mismatch,
            })
        })
        .collect()
}

/// The Elixir name of a value type (`:i32`, ...), without the colon.
pub fn type_name(ty: ValType) -> &'static str {
    match ty {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        ValType::V128 => "v128",
        ValType::FuncRef => "funcref",
        ValType::ExternRef => "externref",
    }
}

/// The value type named `name` (`"i32"`, ...); reference types cannot cross the boundary.
pub fn type_from_name(name: &str) -> Option<ValType> {
    match name {
        "i32" => Some(ValType::I32),
        "i64" => Some(ValType::I64),
        "f32" => Some(ValType::F32),
        "f64" => Some(ValType::F64),
        "v128" => Some(ValType::V128),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fits(input: Input, ty: ValType) -> bool {
        to_val(input, ty).is_ok()
    }

    #[test]
    fn integers_must_be_in_the_signed_range() {
        assert!(fits(Input::Int(i32::MIN.into()), ValType::I32));
        assert!(fits(Input::Int(i32::MAX.into()), ValType::I32));
        assert!(!fits(Input::Int(i128::from(i32::MAX) + 1), ValType::I32));
        assert!(!fits(Input::Int(u32::MAX.into()), ValType::I32));
        assert!(fits(Input::Int(i64::MIN.into()), ValType::I64));
        assert!(!fits(Input::Int(i128::from(i64::MAX) + 1), ValType::I64));
        assert!(!fits(Input::BigInt, ValType::I64));
    }

    #[test]
    fn floats_and_integers_do_not_mix() {
        assert!(!fits(Input::Float(1.0), ValType::I32));
        assert!(!fits(Input::Int(1), ValType::F64));
        assert!(fits(Input::Float(1.5), ValType::F32));
    }

    #[test]
    fn f32_overflow_is_refused_but_special_atoms_pass() {
        assert!(!fits(Input::Float(1e300), ValType::F32));
        assert!(fits(Input::Infinity, ValType::F32));
        assert!(
            matches!(to_val(Input::Nan, ValType::F64), Ok(Val::F64(x)) if x.to_float().is_nan())
        );
        assert!(!fits(Input::Nan, ValType::I32));
    }

    #[test]
    fn v128_takes_unsigned_128_bit_integers() {
        assert!(fits(Input::Uint(u128::MAX), ValType::V128));
        assert!(fits(Input::Int(0), ValType::V128));
        assert!(!fits(Input::Int(-1), ValType::V128));
        assert!(!fits(Input::BigInt, ValType::V128));
    }

    #[test]
    fn messages_name_the_type_and_the_term_kind() {
        let m = to_val(Input::Other(TermKind::Atom), ValType::I32).unwrap_err();
        assert_eq!(m.to_string(), "i32 value. Given `Atom`.");
        let m = to_val(Input::Int(1 << 40), ValType::I32).unwrap_err();
        assert_eq!(m.to_string(), "i32 value.");
        let error = to_vals(
            [Input::Int(1), Input::Float(2.0)].into_iter(),
            &[ValType::I32, ValType::I32],
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "Cannot convert argument #2 to a WebAssembly i32 value."
        );
        let error =
            to_vals([Input::Int(1)].into_iter(), &[ValType::I32, ValType::I32]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "number of params does not match. expected 2, got 1"
        );
    }
}
