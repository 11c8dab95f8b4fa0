//! The codec of every identity service: prost, except that a request message
//! that cannot be decoded is the client's fault and answered as such:
//! `INVALID_ARGUMENT` with ErrorInfo `VAL_001` (tonic's own codec answers
//! `INTERNAL`). Generated code uses it through `codec_path` in `build.rs`.

use std::marker::PhantomData;

use prost::Message;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::ProstEncoder;

use crate::error::{Error, FieldViolation};

/// Prost encoding, and decoding that blames the client for bad input.
#[derive(Debug, Clone, Copy)]
pub struct IdentityCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for IdentityCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for IdentityCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = MessageDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        MessageDecoder(PhantomData)
    }
}

/// Decodes one message; malformed bytes (bad wire format, invalid UTF-8,
/// nesting past prost's recursion limit) are a validation error.
#[derive(Debug)]
pub struct MessageDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for MessageDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(|_| {
            Status::from(Error::Validation(vec![FieldViolation::body(
                "Request message could not be decoded",
            )]))
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}
