//! `COPY … FROM STDIN (FORMAT binary)`: rows encoded in PostgreSQL's binary copy format
//! and sent in chunks through sqlx's raw copy-in, the fastest bulk path PostgreSQL has
//! (no text escaping, no parsing of numbers on the server).
//!
//! ```text
//! header  "PGCOPY\n\xff\r\n\0", flags i32 = 0, extension length i32 = 0
//! row     field count i16, then per field: length i32 (-1 = NULL) and the value
//! trailer i16 = -1
//! ```

use sqlx::postgres::PgConnection;

use super::super::Result;
use super::database;

/// Sent to the server whenever this many bytes are buffered.
const CHUNK: usize = 1 << 20;

const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// One binary `COPY FROM STDIN` in progress: values are appended row by row and
/// streamed out in chunks.
pub(crate) struct BinaryCopy<'c> {
    copy: sqlx::postgres::PgCopyIn<&'c mut PgConnection>,
    buffer: Vec<u8>,
    operation: &'static str,
}

impl<'c> BinaryCopy<'c> {
    /// Starts `statement` (a `COPY … FROM STDIN (FORMAT binary)`).
    pub(crate) async fn start(
        connection: &'c mut PgConnection,
        statement: &str,
        operation: &'static str,
    ) -> Result<BinaryCopy<'c>> {
        let copy = connection
            .copy_in_raw(statement)
            .await
            .map_err(database(operation))?;
        let mut buffer = Vec::with_capacity(CHUNK + CHUNK / 4);
        buffer.extend_from_slice(HEADER);
        Ok(BinaryCopy {
            copy,
            buffer,
            operation,
        })
    }

    /// Begins a row of `fields` values; sends the buffer first when it is full.
    pub(crate) async fn row(&mut self, fields: i16) -> Result<()> {
        if self.buffer.len() >= CHUNK {
            self.copy
                .send(self.buffer.as_slice())
                .await
                .map_err(database(self.operation))?;
            self.buffer.clear();
        }
        self.buffer.extend_from_slice(&fields.to_be_bytes());
        Ok(())
    }

    fn field(&mut self, bytes: Option<&[u8]>) {
        match bytes {
            Some(bytes) => {
                // A text value over 1 GB cannot be stored anyway; the server refuses it.
                let length = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
                self.buffer.extend_from_slice(&length.to_be_bytes());
                self.buffer.extend_from_slice(bytes);
            }
            None => self.buffer.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }

    pub(crate) fn text(&mut self, value: Option<&str>) {
        self.field(value.map(str::as_bytes));
    }

    pub(crate) fn int8(&mut self, value: Option<i64>) {
        self.field(value.map(i64::to_be_bytes).as_ref().map(|bytes| &bytes[..]));
    }

    pub(crate) fn int4(&mut self, value: i32) {
        self.field(Some(&value.to_be_bytes()));
    }

    pub(crate) fn bool(&mut self, value: bool) {
        self.field(Some(&[u8::from(value)]));
    }

    /// Sends the rest and the trailer, and ends the copy; returns the rows copied.
    pub(crate) async fn finish(mut self) -> Result<u64> {
        self.buffer.extend_from_slice(&(-1i16).to_be_bytes());
        self.copy
            .send(self.buffer.as_slice())
            .await
            .map_err(database(self.operation))?;
        self.copy.finish().await.map_err(database(self.operation))
    }
}
