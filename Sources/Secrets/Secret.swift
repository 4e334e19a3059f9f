/// A secret value that never shows itself in string interpolation, `print`, `dump` or debuggers.
///
/// ```swift
/// let token = Secret("eyJhbGciOi…")
/// print("token: \(token)")         // token: ‹redacted›
/// request.setValue(token.value, forHTTPHeaderField: "Authorization")
/// ```
public struct Secret<Value: Sendable>: Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The text printed in place of a secret.
    public static var placeholder: String { redactedPlaceholder }

    /// The secret itself. Reach for it only where the value must be used.
    public let value: Value

    /// Wraps `value`.
    public init(_ value: Value) { self.value = value }

    public var description: String { redactedPlaceholder }
    public var debugDescription: String { redactedPlaceholder }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

extension Secret: Equatable where Value: Equatable {}

/// What redacted text shows instead of a secret.
public let redactedPlaceholder = "‹redacted›"
