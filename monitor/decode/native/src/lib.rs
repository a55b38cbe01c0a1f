//! JSON event messages straight into column buffers, without a Python object per value.
//!
//! Parsing is sonic-rs (SIMD scanning, correctly rounded floats) through serde visitors that
//! write each value where it belongs.
//!
//! A `Reader` knows the paths to read (the scalar parts and the members of the `features` and
//! `segments` objects). `Reader.read` parses a batch of messages, on several threads with the
//! GIL released, and returns per column: the JSON kind of every row (absent, integer, float,
//! text, true, false, object), the numbers, the text as Arrow offsets and data, and for parts
//! that may hold class probabilities the `(row, class, probability)` entries. It returns None as
//! soon as any message is not plain: invalid UTF-8 or JSON, not an object, a container that is
//! not an object, an array or object where a scalar belongs, a key given twice, NaN or infinite
//! numbers, integers beyond 64 bits. The caller then decides message by message in Python, so
//! this reader never has to judge a bad message, only to read good ones exactly as orjson would.

use std::borrow::Cow;
use std::fmt;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

const ABSENT: u8 = 0;
const INT: u8 = 1;
const FLOAT: u8 = 2;
const TEXT: u8 = 3;
const TRUE: u8 = 4;
const FALSE: u8 = 5;
const OBJECT: u8 = 6;

/// 2^64: a float this large may be an integer literal beyond 64 bits, which orjson refuses.
const FLOAT_LIMIT: f64 = 18_446_744_073_709_551_616.0;

/// Batches smaller than this per thread are not worth a thread.
const MIN_ROWS_PER_THREAD: usize = 1024;

/// A seed that is its own visitor of whatever JSON value comes next.
macro_rules! any_value_seed {
    ($seed:ty, $value:ty) => {
        impl<'de> DeserializeSeed<'de> for $seed {
            type Value = $value;

            fn deserialize<D: Deserializer<'de>>(
                self,
                deserializer: D,
            ) -> Result<$value, D::Error> {
                deserializer.deserialize_any(self)
            }
        }
    };
}

enum Node {
    Column(usize),
    Object(Object),
}

/// An object on the paths: its known keys, and whether unknown keys with a value are reported.
#[derive(Default)]
struct Object {
    keys: Vec<Box<str>>,
    nodes: Vec<Node>,
    ids: Vec<usize>,
    report_unknown: bool,
}

impl Object {
    /// The index of `key`, trying `guess` first (messages tend to repeat their key order).
    fn find(&self, key: &str, guess: usize) -> Option<usize> {
        if self.keys.get(guess).is_some_and(|k| &**k == key) {
            return Some(guess);
        }
        self.keys.iter().position(|k| &**k == key)
    }

    fn insert(&mut self, path: &[String], leaf: Option<usize>, ids: &mut usize) -> PyResult<()> {
        let (first, rest) = path
            .split_first()
            .ok_or_else(|| PyValueError::new_err("an empty path"))?;
        let index = match self.find(first, 0) {
            Some(index) => index,
            None => {
                self.keys.push(first.as_str().into());
                self.nodes.push(Node::Object(Object::default()));
                self.ids.push(*ids);
                *ids += 1;
                self.keys.len() - 1
            }
        };
        let node = &mut self.nodes[index];
        match (rest.is_empty(), leaf, node) {
            (true, Some(column), node @ Node::Object(_)) => {
                if matches!(node, Node::Object(o) if !o.keys.is_empty()) {
                    return Err(PyValueError::new_err(format!(
                        "{first} is both a value and an object"
                    )));
                }
                *node = Node::Column(column);
                Ok(())
            }
            (true, None, Node::Object(_)) => Ok(()),
            (false, _, Node::Object(object)) => object.insert(rest, leaf, ids),
            (_, _, Node::Column(_)) => Err(PyValueError::new_err(format!("{first} is read twice"))),
        }
    }

    fn container(
        &mut self,
        path: &[String],
        report_unknown: bool,
        ids: &mut usize,
    ) -> PyResult<()> {
        self.insert(path, None, ids)?;
        let mut node = self;
        for part in path {
            let index = node.find(part, 0).expect("just inserted");
            node = match &mut node.nodes[index] {
                Node::Object(object) => object,
                Node::Column(_) => unreachable!("insert refuses a column on a container path"),
            };
        }
        node.report_unknown = report_unknown;
        Ok(())
    }
}

/// One column of a chunk of rows.
struct ColumnOut {
    kinds: Vec<u8>,
    numbers: Vec<f64>,
    ints: Vec<i64>,
    spans: Vec<(u32, u32)>,
    entries: Vec<(u32, String, f64)>,
}

/// What a thread read from its rows.
struct Chunk {
    columns: Vec<ColumnOut>,
    probabilities: Vec<bool>,
    arena: Vec<u8>,
    unknown: Vec<(String, u32)>,
    seen: Vec<u64>,
    visit: u64,
}

impl Chunk {
    fn new(rows: usize, probabilities: &[bool], nodes: usize) -> Self {
        let columns = probabilities
            .iter()
            .map(|_| ColumnOut {
                kinds: vec![ABSENT; rows],
                numbers: vec![0.0; rows],
                ints: vec![0; rows],
                spans: vec![(0, 0); rows],
                entries: Vec::new(),
            })
            .collect();
        Chunk {
            columns,
            probabilities: probabilities.to_vec(),
            arena: Vec::new(),
            unknown: Vec::new(),
            seen: vec![0; nodes],
            visit: 0,
        }
    }

    fn read(&mut self, root: &Object, row: u32, message: &[u8]) -> Result<(), sonic_rs::Error> {
        let text = std::str::from_utf8(message).map_err(de::Error::custom)?;
        let mut reader = sonic_rs::Deserializer::from_str(text);
        ObjectSeed {
            object: root,
            row,
            chunk: self,
            nullable: false,
        }
        .deserialize(&mut reader)?;
        reader.end()
    }
}

struct ObjectSeed<'a> {
    object: &'a Object,
    row: u32,
    chunk: &'a mut Chunk,
    nullable: bool,
}

any_value_seed!(ObjectSeed<'_>, ());

impl<'de> Visitor<'de> for ObjectSeed<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        if self.nullable {
            Ok(())
        } else {
            Err(E::custom("null where an object belongs"))
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ObjectSeed {
            object, row, chunk, ..
        } = self;
        chunk.visit += 1;
        let visit = chunk.visit;
        let mut unknown_here: Vec<String> = Vec::new();
        let mut guess = 0;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let Some(index) = object.find(&key, guess) else {
                if object.report_unknown {
                    if unknown_here.iter().any(|k| *k == *key) {
                        return Err(de::Error::custom("a key given twice"));
                    }
                    unknown_here.push(key.clone().into_owned());
                    if map.next_value_seed(PresenceSeed)? {
                        chunk.unknown.push((key.into_owned(), row));
                    }
                } else {
                    map.next_value_seed(PresenceSeed)?;
                }
                continue;
            };
            guess = index + 1;
            let id = object.ids[index];
            if chunk.seen[id] == visit {
                return Err(de::Error::custom("a key given twice"));
            }
            chunk.seen[id] = visit;
            match &object.nodes[index] {
                Node::Column(column) => map.next_value_seed(ScalarSeed {
                    column: *column,
                    row,
                    chunk: &mut *chunk,
                })?,
                Node::Object(child) => map.next_value_seed(ObjectSeed {
                    object: child,
                    row,
                    chunk: &mut *chunk,
                    nullable: true,
                })?,
            }
        }
        Ok(())
    }
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a key")
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(value.to_owned()))
    }
}

/// Whether a value is there (anything but null), skipping it; its numbers are still checked.
struct PresenceSeed;

any_value_seed!(PresenceSeed, bool);

impl<'de> Visitor<'de> for PresenceSeed {
    type Value = bool;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(true)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(true)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(true)
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<bool, E> {
        finite(value)?;
        Ok(true)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<bool, E> {
        Ok(true)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(PresenceSeed)?;
        }
        Ok(true)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element_seed(PresenceSeed)?.is_some() {}
        Ok(true)
    }
}

fn finite<E: de::Error>(value: f64) -> Result<f64, E> {
    if value.is_finite() && value.abs() < FLOAT_LIMIT {
        Ok(value)
    } else {
        Err(E::custom("a number beyond 64 bits"))
    }
}

/// A scalar part's value into its column.
struct ScalarSeed<'a> {
    column: usize,
    row: u32,
    chunk: &'a mut Chunk,
}

impl ScalarSeed<'_> {
    fn set(self, kind: u8, number: f64, int: i64) {
        let out = &mut self.chunk.columns[self.column];
        let row = self.row as usize;
        out.kinds[row] = kind;
        out.numbers[row] = number;
        out.ints[row] = int;
    }
}

any_value_seed!(ScalarSeed<'_>, ());

impl<'de> Visitor<'de> for ScalarSeed<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a scalar")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.set(ABSENT, 0.0, 0);
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<(), E> {
        self.set(if value { TRUE } else { FALSE }, 0.0, 0);
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<(), E> {
        self.set(INT, value as f64, value);
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<(), E> {
        let value = i64::try_from(value).map_err(|_| E::custom("an integer beyond int64"))?;
        self.visit_i64(value)
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<(), E> {
        let value = finite(value)?;
        self.set(FLOAT, value, 0);
        Ok(())
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        let arena = &mut self.chunk.arena;
        let start = u32::try_from(arena.len()).map_err(|_| E::custom("text beyond 4 GiB"))?;
        arena.extend_from_slice(value.as_bytes());
        let out = &mut self.chunk.columns[self.column];
        out.spans[self.row as usize] = (start, value.len() as u32);
        self.set(TEXT, 0.0, 0);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if !self.chunk.probabilities[self.column] {
            return Err(de::Error::custom("an object where a scalar belongs"));
        }
        let out = &mut self.chunk.columns[self.column];
        let first = out.entries.len();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value = map.next_value_seed(ProbabilitySeed)?;
            // a class given twice keeps its last probability, as orjson's dict does
            match out.entries[first..].iter_mut().find(|(_, k, _)| *k == *key) {
                Some(entry) => entry.2 = value,
                None => out.entries.push((self.row, key.into_owned(), value)),
            }
        }
        self.set(OBJECT, 0.0, 0);
        Ok(())
    }
}

/// A class probability: a number, or null (NaN here; JSON cannot carry a NaN).
struct ProbabilitySeed;

any_value_seed!(ProbabilitySeed, f64);

impl<'de> Visitor<'de> for ProbabilitySeed {
    type Value = f64;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a number or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<f64, E> {
        Ok(f64::NAN)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<f64, E> {
        Ok(value as f64)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<f64, E> {
        Ok(value as f64)
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<f64, E> {
        finite(value)
    }
}

/// Reads batches of JSON event messages into columns (see the module documentation).
///
/// `columns`: the path of each column and whether it may hold an object of class
/// probabilities. `containers`: the path of each object whose members are columns, and whether
/// its unknown members with a value are reported.
#[pyclass(frozen, module = "monitor.decode._native")]
struct Reader {
    root: Object,
    probabilities: Vec<bool>,
    nodes: usize,
}

type ColumnResult<'py> = (
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Vec<(u32, String, f64)>,
);

#[pymethods]
impl Reader {
    #[new]
    fn new(
        columns: Vec<(Vec<String>, bool)>,
        containers: Vec<(Vec<String>, bool)>,
    ) -> PyResult<Self> {
        let mut root = Object::default();
        let mut nodes = 0;
        for (path, report_unknown) in &containers {
            root.container(path, *report_unknown, &mut nodes)?;
        }
        for (index, (path, _)) in columns.iter().enumerate() {
            root.insert(path, Some(index), &mut nodes)?;
        }
        let probabilities = columns.iter().map(|(_, p)| *p).collect();
        Ok(Reader {
            root,
            probabilities,
            nodes,
        })
    }

    /// Per column `(kinds, numbers, ints, text offsets, text data, probability entries)` and the
    /// rows of each unknown container member, or None when a message needs the per-record path.
    #[allow(clippy::type_complexity)]
    fn read<'py>(
        &self,
        py: Python<'py>,
        messages: &Bound<'py, PyList>,
        threads: usize,
    ) -> PyResult<Option<(Vec<ColumnResult<'py>>, Bound<'py, PyDict>)>> {
        let owned: Vec<Bound<'py, PyBytes>> = messages
            .iter()
            .map(|m| m.cast_into::<PyBytes>().map_err(PyErr::from))
            .collect::<PyResult<_>>()?;
        let slices: Vec<&[u8]> = owned.iter().map(|b| b.as_bytes()).collect();
        let chunks = py.detach(|| self.read_all(&slices, threads));
        let Some(chunks) = chunks else {
            return Ok(None);
        };
        let columns = (0..self.probabilities.len())
            .map(|c| merged(py, &chunks, c))
            .collect::<PyResult<Vec<_>>>()?;
        let unknown = PyDict::new(py);
        let mut rows: std::collections::BTreeMap<&str, Vec<u32>> = Default::default();
        let mut base = 0;
        for (chunk, size) in &chunks {
            for (name, row) in &chunk.unknown {
                rows.entry(name.as_str()).or_default().push(base + row);
            }
            base += *size as u32;
        }
        for (name, found) in rows {
            unknown.set_item(name, PyBytes::new(py, as_bytes(&found)))?;
        }
        let Some(columns) = columns.into_iter().collect::<Option<Vec<_>>>() else {
            return Ok(None);
        };
        Ok(Some((columns, unknown)))
    }
}

impl Reader {
    fn read_all(&self, messages: &[&[u8]], threads: usize) -> Option<Vec<(Chunk, usize)>> {
        let parts = threads.clamp(1, 1 + messages.len() / MIN_ROWS_PER_THREAD);
        let size = messages.len().div_ceil(parts).max(1);
        let read_part = |part: &[&[u8]]| -> Option<(Chunk, usize)> {
            let mut chunk = Chunk::new(part.len(), &self.probabilities, self.nodes);
            for (row, message) in part.iter().enumerate() {
                chunk.read(&self.root, row as u32, message).ok()?;
            }
            Some((chunk, part.len()))
        };
        if parts == 1 {
            return Some(vec![read_part(messages)?]);
        }
        std::thread::scope(|scope| {
            let handles: Vec<_> = messages
                .chunks(size)
                .map(|part| scope.spawn(move || read_part(part)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().ok().flatten())
                .collect()
        })
    }
}

/// Column `c` of every chunk as one result; None when its text exceeds Arrow's int32 offsets.
fn merged<'py>(
    py: Python<'py>,
    chunks: &[(Chunk, usize)],
    c: usize,
) -> PyResult<Option<ColumnResult<'py>>> {
    let mut kinds = Vec::new();
    let mut numbers = Vec::new();
    let mut ints = Vec::new();
    let mut offsets: Vec<i32> = vec![0];
    let mut data = Vec::new();
    let mut entries = Vec::new();
    let mut base = 0u32;
    for (chunk, size) in chunks {
        let out = &chunk.columns[c];
        kinds.extend_from_slice(&out.kinds);
        numbers.extend_from_slice(&out.numbers);
        ints.extend_from_slice(&out.ints);
        for (kind, &(start, length)) in out.kinds.iter().zip(&out.spans) {
            if *kind == TEXT {
                data.extend_from_slice(&chunk.arena[start as usize..(start + length) as usize]);
                let Ok(end) = i32::try_from(data.len()) else {
                    return Ok(None);
                };
                offsets.push(end);
            }
        }
        entries.extend(
            out.entries
                .iter()
                .map(|(row, key, value)| (base + row, key.clone(), *value)),
        );
        base += *size as u32;
    }
    Ok(Some((
        PyBytes::new(py, &kinds),
        PyBytes::new(py, as_bytes(&numbers)),
        PyBytes::new(py, as_bytes(&ints)),
        PyBytes::new(py, as_bytes(&offsets)),
        PyBytes::new(py, &data),
        entries,
    )))
}

/// The bytes of a slice of plain numbers, in native order.
fn as_bytes<T: Copy>(values: &[T]) -> &[u8] {
    // SAFETY: T is a plain number type (u32, i32, i64, f64): no padding, every byte initialised.
    unsafe { std::slice::from_raw_parts(values.as_ptr().cast(), std::mem::size_of_val(values)) }
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Reader>()?;
    module.add("ABSENT", ABSENT)?;
    module.add("INT", INT)?;
    module.add("FLOAT", FLOAT)?;
    module.add("TEXT", TEXT)?;
    module.add("TRUE", TRUE)?;
    module.add("FALSE", FALSE)?;
    module.add("OBJECT", OBJECT)?;
    Ok(())
}
