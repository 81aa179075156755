import Testing
@Test func placeholderNudgeTests() { #expect(1 + 1 == 2) }
