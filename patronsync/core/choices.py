"""Choices shared across apps: the code tables patronsync knows, by Alma's table names."""

from django.db import models


class CodeTableName(models.TextChoices):
    """Alma's code-table names, as served at /almaws/v1/conf/code-tables/{name}."""

    USER_GROUPS = "UserGroups", "User groups"
    IDENTIFIER_TYPES = "UserIdentifierTypes", "Identifier types"
    ADDRESS_TYPES = "UserAddressTypes", "Address types"
    EMAIL_TYPES = "UserEmailTypes", "Email types"
    PHONE_TYPES = "UserPhoneTypes", "Phone types"
    NOTE_TYPES = "NoteTypes", "Note types"
    BLOCK_TYPES = "UserBlockTypes", "Block types"
    BLOCK_DESCRIPTIONS = "UserBlockDescription", "Block descriptions"
    STATISTIC_CATEGORIES = "UserStatCategories", "Statistic categories"
    CAMPUSES = "CampusList", "Campuses"
    LANGUAGES = "UserPreferredLanguage", "Languages"
    COUNTRIES = "CountryCodes", "Countries"
    GENDERS = "Genders", "Genders"
    TITLES = "UserTitles", "Titles"
    JOB_CATEGORIES = "JobTitles", "Job categories"
    RECORD_TYPES = "AddNewUserOptions", "Record types"
    ACCOUNT_TYPES = "UserUserType", "Account types"
    STATUSES = "ContentStructureStatus", "Statuses"
    CATALOGER_LEVELS = "CatalogerLevel", "Cataloger levels"
