package defender

// AppendString is exported for the tests of the JSON writer.
var AppendString = appendString
