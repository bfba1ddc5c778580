//! The rules for turning host values into Wasm values, and type names.
//!
//! The NIF decodes an Elixir term into an [`Input`] and this module decides whether it fits a
//! [`ValType`]: integers must be in the signed range (no wrapping), floats only go to float
//! types, an `f32` that would overflow to infinity is refused, `v128` takes `0..2^128`.

use core::fmt;
use wasmi::{ExternType, Mutability, Val, ValType, F32, F64, V128};

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
#[derive(Debug, Clone, PartialEq)]
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
    /// Anything else: its kind, and how a message shows it (`nil`, `"abc"`, `a map`).
    Other(TermKind, Box<str>),
}

impl fmt::Display for Input {
    /// The value as Elixir writes it, for messages (`1.0e300`, `:nan`, `nil`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Int(n) => write!(f, "{n}"),
            Input::Uint(n) => write!(f, "{n}"),
            Input::BigInt => f.write_str("an integer of more than 128 bits"),
            Input::Float(x) => f.write_str(&float_text(*x)),
            Input::Nan => f.write_str(":nan"),
            Input::Infinity => f.write_str(":infinity"),
            Input::NegInfinity => f.write_str(":neg_infinity"),
            Input::Other(_, shown) => f.write_str(shown),
        }
    }
}

/// A float as Elixir writes it (`inspect/1`, Erlang's `io_lib_format:fwrite_g/1`): the
/// shortest digits that read back as `x`, in decimal notation unless the exponent form is
/// shorter or `x` is at least 2^53 (`100.0`, `1.0e5`, `1.2e-4`, `9.007199254740992e15`).
fn float_text(x: f64) -> String {
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    // Rust's `{:e}` gives the same shortest digits: `1.2345e5`, `1e300`.
    let scientific = format!("{:e}", x.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let digits = mantissa.replace('.', "");
    let length = digits.len() as i64;
    // The value is 0.<digits> * 10^place.
    let place = exponent.parse::<i64>().unwrap_or(0) + 1;
    let exponent_form = || match digits.split_at(1) {
        (first, "") => format!("{first}.0e{}", place - 1),
        (first, rest) => format!("{first}.{rest}e{}", place - 1),
    };
    let exponent_cost = (place - 1).to_string().len() as i64 + 1 + if length == 1 { 2 } else { 1 };
    let text = if place == 0 {
        format!("0.{digits}")
    } else if place < 0 {
        if 2 - place <= exponent_cost {
            format!("0.{}{digits}", "0".repeat(place.unsigned_abs() as usize))
        } else {
            exponent_form()
        }
    } else if place >= length {
        if place - length + 2 <= exponent_cost && x.abs() < 9_007_199_254_740_992.0 {
            format!("{digits}{}.0", "0".repeat((place - length) as usize))
        } else {
            exponent_form()
        }
    } else {
        let (whole, fraction) = digits.split_at(place as usize);
        format!("{whole}.{fraction}")
    };
    format!("{sign}{text}")
}

/// Why an [`Input`] does not fit a [`ValType`]; displays as the tail of a message, naming
/// the type, what it takes and the value given:
/// "i32 value: expected an integer in -2147483648..2147483647, got: 1.5".
/// [`Mismatch::wasmex`] is Wasmex's tail instead ("i32 value." or "i32 value. Given `Atom`.").
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// The type that was asked for.
    pub expected: ValType,
    /// The value given.
    pub given: Input,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ty = type_name(self.expected);
        let takes = match self.expected {
            ValType::I32 => "expected an integer in -2147483648..2147483647",
            ValType::I64 => "expected an integer in -9223372036854775808..9223372036854775807",
            ValType::F32 => {
                "expected a float in -3.4028234663852886e38..3.4028234663852886e38, \
                 :nan, :infinity or :neg_infinity"
            }
            ValType::F64 => "expected a float, :nan, :infinity or :neg_infinity",
            ValType::V128 => "expected an integer in 0..340282366920938463463374607431768211455",
            ValType::FuncRef | ValType::ExternRef => "Elixir cannot give one",
        };
        write!(f, "{ty} value: {takes}, got: {}", self.given)
    }
}

impl Mismatch {
    /// Wasmex's words for the mismatch: "i32 value." for a number, "i32 value. Given
    /// `Atom`." for another term.
    pub fn wasmex(&self) -> String {
        let ty = type_name(self.expected);
        match &self.given {
            Input::Other(kind, _) => format!("{ty} value. Given `{kind}`."),
            _ => format!("{ty} value."),
        }
    }
}

/// Converts `input` to a value of type `ty`.
///
/// # Errors
///
/// A [`Mismatch`] when the input is of the wrong kind or out of range for `ty`.
pub fn to_val(input: Input, ty: ValType) -> Result<Val, Mismatch> {
    let val = match (ty, &input) {
        (ValType::I32, Input::Int(n)) => i32::try_from(*n).ok().map(Val::I32),
        (ValType::I64, Input::Int(n)) => i64::try_from(*n).ok().map(Val::I64),
        (ValType::F32, Input::Float(x)) => {
            let narrowed = *x as f32;
            (!narrowed.is_infinite()).then(|| Val::F32(F32::from_float(narrowed)))
        }
        (ValType::F64, Input::Float(x)) => Some(Val::F64(F64::from_float(*x))),
        (ValType::F32, special) => {
            special_float(special).map(|x| Val::F32(F32::from_float(x as f32)))
        }
        (ValType::F64, special) => special_float(special).map(|x| Val::F64(F64::from_float(x))),
        (ValType::V128, Input::Int(n)) => u128::try_from(*n).ok().map(|n| Val::V128(V128::from(n))),
        (ValType::V128, Input::Uint(n)) => Some(Val::V128(V128::from(*n))),
        _ => None,
    };
    val.ok_or(Mismatch {
        expected: ty,
        given: input,
    })
}

fn special_float(input: &Input) -> Option<f64> {
    match input {
        Input::Nan => Some(f64::NAN),
        Input::Infinity => Some(f64::INFINITY),
        Input::NegInfinity => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// What a call of a function of type `ty` needs: `inputs` converted to its params (see
/// [`to_vals`]), and a slot of each result type for wasmi to write the results to.
///
/// # Errors
///
/// Those of [`to_vals`].
pub fn call_vals(
    inputs: impl ExactSizeIterator<Item = Input>,
    ty: &wasmi::FuncType,
) -> Result<(Vec<Val>, Vec<Val>), crate::Error> {
    let params = to_vals(inputs, ty.params())?;
    let results = ty
        .results()
        .iter()
        .copied()
        .map(Val::default_for_ty)
        .collect();
    Ok((params, results))
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

/// An import's or export's type as a message shows it: a function as
/// `(i32, i32) -> i32` (the types of an Elixir import's `{:fn, params, results, fun}`),
/// anything else as in the text format: `(global (mut i32))`, `(memory 1 2)`,
/// `(table 1 funcref)`.
pub fn extern_type_text(ty: &ExternType) -> String {
    let names = |types: &[ValType]| -> String {
        types
            .iter()
            .map(|ty| type_name(*ty))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let limits = |is_64: bool, minimum: u64, maximum: Option<u64>| {
        let index = if is_64 { "i64 " } else { "" };
        match maximum {
            Some(maximum) => format!("{index}{minimum} {maximum}"),
            None => format!("{index}{minimum}"),
        }
    };
    match ty {
        ExternType::Func(func) => {
            let results = match func.results() {
                [one] => type_name(*one).to_string(),
                results => format!("({})", names(results)),
            };
            format!("({}) -> {results}", names(func.params()))
        }
        ExternType::Global(global) => match global.mutability() {
            Mutability::Const => format!("(global {})", type_name(global.content())),
            Mutability::Var => format!("(global (mut {}))", type_name(global.content())),
        },
        ExternType::Memory(memory) => format!(
            "(memory {})",
            limits(memory.is_64(), memory.minimum(), memory.maximum())
        ),
        ExternType::Table(table) => format!(
            "(table {} {})",
            limits(table.is_64(), table.minimum(), table.maximum()),
            type_name(ValType::from(table.element()))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmi::FuncType;

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
    fn messages_name_the_value_and_what_the_type_takes() {
        let nil = Input::Other(TermKind::Atom, "nil".into());
        let m = to_val(nil, ValType::I32).unwrap_err();
        assert_eq!(
            m.to_string(),
            "i32 value: expected an integer in -2147483648..2147483647, got: nil"
        );
        assert_eq!(m.wasmex(), "i32 value. Given `Atom`.");
        let m = to_val(Input::Int(1 << 40), ValType::I32).unwrap_err();
        assert_eq!(
            m.to_string(),
            "i32 value: expected an integer in -2147483648..2147483647, got: 1099511627776"
        );
        assert_eq!(m.wasmex(), "i32 value.");
        let m = to_val(Input::Float(1e300), ValType::F32).unwrap_err();
        assert_eq!(
            m.to_string(),
            "f32 value: expected a float in -3.4028234663852886e38..3.4028234663852886e38, \
             :nan, :infinity or :neg_infinity, got: 1.0e300"
        );
        let m = to_val(Input::Nan, ValType::I64).unwrap_err();
        assert!(m.to_string().ends_with("got: :nan"));
        let m = to_val(Input::Int(-1), ValType::V128).unwrap_err();
        assert_eq!(
            m.to_string(),
            "v128 value: expected an integer in 0..340282366920938463463374607431768211455, \
             got: -1"
        );
        let error = to_vals(
            [Input::Int(1), Input::Float(2.5)].into_iter(),
            &[ValType::I32, ValType::I32],
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "Cannot convert argument #2 to a WebAssembly i32 value: \
             expected an integer in -2147483648..2147483647, got: 2.5"
        );
        assert_eq!(
            error.wasmex_message(),
            "Cannot convert argument #2 to a WebAssembly i32 value."
        );
        let error =
            to_vals([Input::Int(1)].into_iter(), &[ValType::I32, ValType::I32]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "number of params does not match. expected 2, got 1"
        );
    }

    #[test]
    fn floats_are_written_as_elixir_writes_them() {
        // Each pair checked against `inspect/1` in Elixir 1.14 / OTP 25.
        for (x, text) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.5, "1.5"),
            (-2.5, "-2.5"),
            (100.0, "100.0"),
            (100_000.0, "1.0e5"),
            (1_234_567.0, "1234567.0"),
            (1e15, "1.0e15"),
            (1_234_567_890_123_456.0, "1234567890123456.0"),
            (4_503_599_627_370_497.0, "4503599627370497.0"),
            (9_007_199_254_740_992.0, "9.007199254740992e15"),
            (12_345_678_901_234_567.0, "1.2345678901234568e16"),
            (0.1, "0.1"),
            (0.01, "0.01"),
            (0.0001, "0.0001"),
            (0.00012, "1.2e-4"),
            (2.5e-6, "2.5e-6"),
            (1e-40, "1.0e-40"),
            (1.5e300, "1.5e300"),
            (3.4028234663852886e38, "3.4028234663852886e38"),
        ] {
            assert_eq!(float_text(x), text, "{x:e}");
        }
    }

    #[test]
    fn signatures_are_written_as_elixir_declares_them() {
        let func = |params: &[ValType], results: &[ValType]| {
            extern_type_text(&ExternType::Func(FuncType::new(
                params.iter().copied(),
                results.iter().copied(),
            )))
        };
        assert_eq!(
            func(&[ValType::I32, ValType::I32], &[ValType::I32]),
            "(i32, i32) -> i32"
        );
        assert_eq!(func(&[], &[]), "() -> ()");
        assert_eq!(
            func(&[ValType::F64], &[ValType::I64, ValType::I64]),
            "(f64) -> (i64, i64)"
        );
    }
}
