"""Personal information (个人信息): the data map; retention, consent and people's rights to come (issue #23)."""
