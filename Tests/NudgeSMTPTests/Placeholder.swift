import Testing
@Test func placeholderNudgeSMTPTests() { #expect(1 + 1 == 2) }
