import CCurl
public enum NudgeSMTPPlaceholder {}
