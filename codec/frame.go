package codec

import (
	"encoding/binary"
	"math"
	"strconv"
)

// The Confluent wire format: one magic byte, the schema id as a 4-byte
// big-endian integer, then the serialized data — here the JSON payload.
const MagicByte byte = 0x00

const (
	FrameHeader = 5 // bytes before the payload
	// MaxSchemaID is the largest id a Confluent client can read: Java reads
	// the id as a signed 32-bit int, so the top bit must stay clear.
	MaxSchemaID = math.MaxInt32
)

// Frame returns payload in the Confluent wire format under schemaID. It
// panics if schemaID is outside 1..MaxSchemaID: ids come from the schema
// registry, so a bad one is a programming error, and Unframe would refuse it.
func Frame(schemaID int, payload []byte) []byte {
	if schemaID < 1 || schemaID > MaxSchemaID {
		panic("codec: Frame: schema id " + strconv.Itoa(schemaID) + " is outside 1..2147483647")
	}
	b := make([]byte, FrameHeader+len(payload))
	putFrameHeader(b, schemaID)
	copy(b[FrameHeader:], payload)
	return b
}

func putFrameHeader(b []byte, schemaID int) {
	b[0] = MagicByte
	binary.BigEndian.PutUint32(b[1:FrameHeader], uint32(schemaID))
}

// Unframe reads a value in the Confluent wire format, as a Confluent
// deserializer does before it looks the schema up. payload aliases value.
// It fails with a *DecodeError (Field "value") if the value is shorter than
// the frame header, the magic byte is not 0x00, the schema id is 0 or has its
// top bit set, or no payload follows.
func Unframe(value []byte) (schemaID int, payload []byte, err error) {
	if len(value) < FrameHeader {
		return 0, nil, valueError("is %d bytes, shorter than the 5-byte Confluent frame header", len(value))
	}
	if value[0] != MagicByte {
		return 0, nil, valueError("starts with byte 0x%02x, not the Confluent magic byte 0x00", value[0])
	}
	id := binary.BigEndian.Uint32(value[1:FrameHeader])
	if id == 0 || id > MaxSchemaID {
		return 0, nil, valueError("carries schema id %d (bytes %x), outside 1..2147483647", int32(id), value[1:FrameHeader])
	}
	if len(value) == FrameHeader {
		return 0, nil, valueError("has a frame header but no payload")
	}
	return int(id), value[FrameHeader:], nil
}
