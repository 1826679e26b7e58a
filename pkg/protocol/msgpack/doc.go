// Package msgpack is a small MessagePack codec without dependencies, written
// for the Socket.IO Redis adapter wire format (notepack.io on the Node side).
//
// Encoding is append-style: the Append* functions append one value, or the
// header of an array, map or extension, to a byte slice and return it.
// Integers take the smallest form that holds them, as notepack.io writes them.
//
// Decoding is pull-style: a Reader walks a buffer one header at a time (Next)
// and can skip whole values (Skip) without recursion. Str, bin and ext
// payloads are returned as sub-slices of the input, never copied. Every
// length is checked against the bytes that remain, so hostile input cannot
// make the decoder allocate or loop beyond the size of that input.
//
// The functions are safe for concurrent use; a Reader is not.
package msgpack
